"""aksdoctor: diagnose and fix Kubernetes-on-Azure problems. The shared core; no CLI framework in here."""

__version__ = "0.1.0"
