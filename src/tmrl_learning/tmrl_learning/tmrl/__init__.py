"""TMRL: RL that steers a frozen CSP policy through its latent noise and context timestep."""
