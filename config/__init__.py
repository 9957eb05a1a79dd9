"""Reference data and message catalog (YAML) that operators edit."""
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
