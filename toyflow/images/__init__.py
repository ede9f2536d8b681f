"""Image experiments on the same core: a DDPM++ U-Net, image loaders, measurements."""
