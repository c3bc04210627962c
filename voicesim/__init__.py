"""voicesim: an offline practice line for call-center trainees."""

__version__ = "0.1.0"
