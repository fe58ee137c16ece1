"""Signal processing on (C, N) arrays: spectra, envelopes, indicators, resampling, kinematics."""
