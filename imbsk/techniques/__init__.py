"""Training techniques: SAM-A, class-conditional smoothing, Joint-SSL (VICReg), EMA, baseline losses and weights."""
