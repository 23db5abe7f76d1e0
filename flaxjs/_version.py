"""The package version, in a module of its own.

Low-level modules (``flaxjs.io.http``'s User-Agent, the exporter's producer string,
the CLI) import it from here: ``from .. import __version__`` would run the whole
package's ``__init__`` (JAX, flax, every converter) underneath the lowest layer.
"""

__version__ = "0.1.0"
