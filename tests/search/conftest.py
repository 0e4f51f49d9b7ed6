"""Search tests read the shared NB-201 checkpoint of tests/conftest.py (``nb201_ckpt``, ``nb201_ckpt_dir``)."""
