"""Learning: datasets and readers, augmentation, metrics, the training loop, the CWRU protocol."""
