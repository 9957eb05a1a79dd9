"""Written applications: scanned letters checked on upload, read by Tesseract, and the
fields a clerk needs (phone, CNIC, district, department) suggested from the text.

    intake.py           what an upload is, from its bytes; limits; damaged files refused
    pages.py            PDF and image pages to clean, de-skewed grayscale PNGs
    ocr.py              Tesseract (eng, urd, pus): script, language, text, confidence
    fields.py           phone numbers, CNIC, district, category found in the text
    acknowledgement.py  the printable acknowledgement letter (PDF) in the writer's language
"""
