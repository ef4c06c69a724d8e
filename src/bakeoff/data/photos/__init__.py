"""Photos -> model inputs: decoding (decode.py), conversion into a dataset's domain (preprocess.py, segment.py),
labelled photo folders (folders.py), and photos joined to training (training.py). One path for training,
scoring and serving, so a photo is seen the same way by each."""
