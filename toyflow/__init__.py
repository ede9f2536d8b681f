"""toyflow: the optimal diffusion model memorises; real ones generalise. See why, in 2D."""
