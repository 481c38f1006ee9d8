"""The main job: the training loop, its data, its reports, and fine-tuning (``python -m minitorch``)."""
