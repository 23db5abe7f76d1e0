"""TF.js graph models (``format: "graph-model"``, a TensorFlow GraphDef) in JAX."""

from .model import GraphModel as GraphModel
