"""Everything between files on disk and the tensors the models take."""
