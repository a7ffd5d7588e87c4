"""Layers built on Tensor, in PyTorch's names and layouts: ``Module`` (train/eval modes,
``state_dict``) and ``Sequential`` with the layer registry ``LAYERS`` (``module.py``); Linear,
the activations, MLP, ``predict_proba`` and the initialisers (``dense.py``); Conv2d, MaxPool2d,
AvgPool2d, Flatten, Unflatten and Dropout (``conv.py``).

Every Module subclass registers itself in ``LAYERS``, so ``serialize.save``/``load`` handle
any network of registered layers. Leaves out: losses (``losses.py``), training (``train.py``),
the file format (``serialize.py``), layer lists from text (``arch.py``).
"""
from .conv import AvgPool2d, Conv2d, Dropout, Flatten, MaxPool2d, Unflatten
from .dense import ACTIVATIONS, INITS, MLP, Linear, ReLU, Sigmoid, Softmax, Tanh, predict_proba
from .module import LAYERS, LoadedKeys, Module, Sequential, build, training_mode

__all__ = ["Module", "Linear", "Sigmoid", "Tanh", "ReLU", "Softmax", "Sequential", "MLP", "Conv2d",
           "MaxPool2d", "AvgPool2d", "Flatten", "Unflatten", "Dropout", "INITS", "ACTIVATIONS", "LAYERS",
           "LoadedKeys", "build", "training_mode", "predict_proba"]
