"""TensorFlow op converters for graph models, one module per TF.js op family.

Importing this package registers every family (:mod:`.families` lists them).
"""

from . import families as families
