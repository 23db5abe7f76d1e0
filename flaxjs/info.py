"""What a model knows about where it came from, and the views both model kinds share.

:class:`ModelInfo` is the frozen metadata of a :class:`~flaxjs.Model` or a
:class:`~flaxjs.GraphModel` (timm's ``PretrainedCfg``); :class:`InfoViews` gives
both the same read-only properties and the label/preprocessing helpers built on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from . import preprocessing
from .topology.spec import InputSpec


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """Where a model came from and how to feed it and read it (timm's ``PretrainedCfg``).

    Attributes:
      location: where the model was loaded from (a path, URL or ``"<memory>"``).
      model_json: the model.json it was loaded from (``None`` if built in code).
      weight_names: variable path ``(collection, *path)`` → its manifest weight name.
      metadata: the sibling ``metadata.json`` (labels, vocabulary...), if any.
      card: the :mod:`flaxjs.zoo` card it came from, if any.
      preprocessing: how ``Model.preprocess`` prepares raw data (a zoo card's
        ``preprocessing`` dict; ``None`` infers it from :attr:`metadata`).
      decoding: how ``Model.decode`` reads outputs (``{"output": kind, "label_offset": n}``).
      labels: class names given explicitly (a zoo card's, ``userDefinedMetadata``'s, or
        yours); ``None`` falls back to :attr:`metadata`'s.
      outputs_changed: the outputs are no longer the ones :attr:`metadata` describes
        (after ``truncate``/``extend``), so its labels no longer apply.
    """

    location: str | None = None
    model_json: Mapping[str, Any] | None = None
    weight_names: Mapping[tuple[str, ...], str] = dataclasses.field(default_factory=dict)
    metadata: Mapping[str, Any] | None = None
    card: Any = None
    preprocessing: Mapping[str, Any] | None = None
    decoding: Mapping[str, Any] | None = None
    labels: tuple[str, ...] | None = None
    outputs_changed: bool = False

    def __post_init__(self) -> None:
        if self.labels is not None and not isinstance(self.labels, tuple):
            object.__setattr__(self, "labels", tuple(str(v) for v in self.labels))


class InfoViews:
    """Read-only views of :attr:`info` (needs ``info`` and ``input_specs``)."""

    info: ModelInfo

    @property
    def input_specs(self) -> tuple[InputSpec, ...]:
        raise NotImplementedError

    @property
    def location(self) -> str | None:
        return self.info.location

    @property
    def model_json(self) -> Mapping[str, Any] | None:
        return self.info.model_json

    @property
    def weight_names(self) -> Mapping[tuple[str, ...], str]:
        return self.info.weight_names

    @property
    def metadata(self) -> Mapping[str, Any] | None:
        return self.info.metadata

    @property
    def card(self) -> Any:
        return self.info.card

    @property
    def preprocessing(self) -> Mapping[str, Any] | None:
        return self.info.preprocessing

    @property
    def decoding(self) -> Mapping[str, Any] | None:
        return self.info.decoding

    @property
    def known_preprocessing(self) -> Mapping[str, Any] | None:
        """:attr:`preprocessing`, else the one inferred from :attr:`metadata` (``None``:
        unknown): what :meth:`preprocess` follows."""
        return self.preprocessing or preprocessing.spec_from_metadata(self.metadata)

    # ---------------------------------------------------------------- labels & data
    @property
    def labels(self) -> list[str] | None:
        """Class names: the zoo card's or your own, else metadata.json's ``labels``
        (Teachable Machine) or ``wordLabels``/``words`` (speech-commands); ``None`` if
        unknown or if the outputs changed since."""
        if self.info.labels is not None:
            return list(self.info.labels)
        if self.info.outputs_changed:
            return None
        return preprocessing.labels_from_metadata(self.metadata)

    @property
    def vocabulary(self) -> dict[str, int] | None:
        """metadata.json's ``word_index`` (tfjs-examples text models), if any."""
        vocab = (self.metadata or {}).get("word_index")
        return vocab if isinstance(vocab, dict) else None

    def preprocess(self, data: Any) -> Any:
        """Raw data (uint8 HWC / PIL images, texts...) → this model's input array.

        Follows :attr:`preprocessing` (see :func:`flaxjs.preprocessing.preprocess`).
        """
        spec = self.input_specs[0] if self.input_specs else None
        return preprocessing.preprocess(data, self.preprocessing, metadata=self.metadata,
                                        input_shape=spec.shape if spec else None,
                                        dtype=spec.dtype if spec else "float32")

    def decode(self, outputs: Any, *, top: int = 5) -> list:
        """The ``top`` ``(label, score)`` pairs of an output, best first: one list for an
        output ``[K]``, one list per example for a batch ``[N, K]`` (``N = 1`` too); see
        :func:`flaxjs.preprocessing.decode`."""
        decoding = self.decoding or {}
        return preprocessing.decode(outputs, self.labels, top=top, output=decoding.get("output"),
                                    label_offset=decoding.get("label_offset", 0))
