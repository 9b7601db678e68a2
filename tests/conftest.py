import os

os.environ.setdefault("VIGIL_TEST", "1")
