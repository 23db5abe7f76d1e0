"""TensorFlow op converters for graph models, one module per TF.js op family."""
