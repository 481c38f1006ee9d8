"""``minitorch.vision``: datasets, transforms and image files, as torchvision (NumPy only;
PIL images are taken too when Pillow is installed; it is only imported when a call needs it).

    from minitorch.vision import datasets, transforms
    train = datasets.Digits(train=True, size=28,
                            transform=transforms.Normalize([0.5], [0.5]))
"""
from . import functional, transforms, datasets
from . import utils  # make_grid, save_image
from . import io  # read_image, decode_image, write_png
