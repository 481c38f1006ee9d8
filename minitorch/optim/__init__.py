"""Optimizers (SGD, Adam, AdamW, Adadelta, RMSprop) and learning-rate schedulers, as
``torch.optim``.

Every step runs under ``no_grad`` and updates each parameter's array in place (then bumps its
version counter), so views of a parameter see the new values and a graph that saved the old ones
refuses to backward. Algorithms, state and state dicts follow torch's, step for step.
"""
from . import lr_scheduler
from .adadelta import Adadelta
from .adam import Adam, AdamW
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adadelta", "RMSprop", "lr_scheduler"]
