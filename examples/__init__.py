"""Examples built on flaxjs, shipped as ``flaxjs.examples``.

``transfer_learning`` is what ``flaxjs demo`` runs: a pretrained zoo base, cut and
frozen, a new head trained on shapes drawn offline (``shapes``), the top block
fine-tuned, and the training curves drawn with Pillow (``plot``). Run it with
``flaxjs demo`` or ``python -m flaxjs.examples.transfer_learning``.
"""
