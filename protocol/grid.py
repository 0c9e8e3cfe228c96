"""The feeder as data: buses, lines with limits, and the transformer at the root."""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)


class Line(BaseModel):
    """A line between two buses; energy may flow either way up to ``capacity_kwh``.

    ``wheeling_fee_eur_per_kwh`` is charged on every kWh the line carries, in either
    direction. ``reactance_ohm`` splits flows between parallel paths in a meshed grid
    (DC flow: only the ratios between lines matter; unused on a radial feeder). Both are
    left out of the serialised form at their defaults, so grids written before they
    existed keep their bytes and their ``grid_hash``.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    from_bus: str = Field(alias="from")
    to_bus: str = Field(alias="to")
    capacity_kwh: float = Field(ge=0, allow_inf_nan=False)
    wheeling_fee_eur_per_kwh: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    reactance_ohm: float = Field(default=1.0, gt=0, allow_inf_nan=False)

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if self.wheeling_fee_eur_per_kwh == 0:
            data.pop("wheeling_fee_eur_per_kwh", None)
        if self.reactance_ohm == 1.0:
            data.pop("reactance_ohm", None)
        return data


class Grid(BaseModel):
    """A feeder: the root bus meets the upstream grid through the transformer.

    Import and export prices at the root are the grid fallback for the whole
    neighbourhood; ``transformer_capacity_kwh`` (None = unlimited) bounds each of them
    per interval. A grid is radial (a tree) unless ``meshed`` is set, in which case its
    lines may form loops and energy splits between them by a linear DC flow model
    (``Line.reactance_ohm``). ``meshed`` is left out of the serialised form when False.
    """

    model_config = ConfigDict(frozen=True)

    root: str
    buses: tuple[str, ...] = Field(min_length=1)
    lines: tuple[Line, ...] = ()
    import_price_eur_per_kwh: float = Field(allow_inf_nan=False)
    export_price_eur_per_kwh: float = Field(allow_inf_nan=False)
    transformer_capacity_kwh: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    meshed: bool = False

    @model_serializer(mode="wrap")
    def _omit_radial(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if not self.meshed:
            data.pop("meshed", None)
        return data

    @model_validator(mode="after")
    def _radial(self) -> Grid:
        known = set(self.buses)
        if len(known) != len(self.buses):
            raise ValueError("bus names must be unique")
        if self.root not in known:
            raise ValueError(f"root bus {self.root!r} is not among the buses")
        if self.export_price_eur_per_kwh > self.import_price_eur_per_kwh:
            raise ValueError("export price above import price would let the grid be arbitraged")
        adjacency: dict[str, list[str]] = {b: [] for b in self.buses}
        for line in self.lines:
            for end in (line.from_bus, line.to_bus):
                if end not in known:
                    raise ValueError(f"line end {end!r} is not a bus")
            adjacency[line.from_bus].append(line.to_bus)
            adjacency[line.to_bus].append(line.from_bus)
        if self.meshed:
            if any(line.from_bus == line.to_bus for line in self.lines):
                raise ValueError("a line must join two different buses")
        elif len(self.lines) != len(self.buses) - 1:
            raise ValueError(
                "a radial feeder has exactly one line fewer than buses (set meshed for loops)"
            )
        seen = {self.root}
        stack = [self.root]
        while stack:
            for nxt in adjacency[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        if seen != known:
            missing = sorted(known - seen)
            raise ValueError(f"buses not connected to the root: {', '.join(missing)}")
        return self
