//! NumPy `.npy` files: float32 tensors out (`preprocess`), prediction caches in (`import-seed`).
