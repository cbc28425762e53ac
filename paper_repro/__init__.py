"""Paper reproductions: one module per paper, each exposing ``main(config)``, ``QUICK`` and ``FULL``."""
