"""KML for Google Earth: a folder of sites, then a folder per demand with its styled routes.

Every attribute travels in typed `ExtendedData` (one `Schema` per layer), so Google Earth,
QGIS and GDAL's LIBKML driver read all fields; GDAL's plain KML driver reads the name,
description and geometry. Folder names become layer names in GIS tools: `sites`, then
`<demand>`, `<demand> route_segments` and `<demand> jurisdictions_crossed` (the last two
hidden at first).
"""

from __future__ import annotations

import html
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd
import shapely

from optimizer import __version__
from optimizer.mapview import demand_colors, level_colors

if TYPE_CHECKING:
    from optimizer.formats import ResultLayers

__all__ = ["kml_document"]

KML_NAMESPACE = "http://www.opengis.net/kml/2.2"
SITE_ICON = "http://maps.google.com/mapfiles/kml/shapes/placemark_circle.png"
ROUTE_WIDTH_PX, DIVERSE_WIDTH_PX = 4.0, 2.5
_SCHEMA_TYPES = {"b": "bool", "i": "int", "u": "int", "f": "double"}


def kml_document(layers: ResultLayers) -> str:
    """The whole result as one KML document (UTF-8 text)."""
    root = ET.Element("kml", {"xmlns": KML_NAMESPACE})
    doc = ET.SubElement(root, "Document")
    _text(doc, "name", layers.name)
    _text(doc, "description", f"fiberopt {__version__}: routes, sites and jurisdictions crossed")
    for name, frame in layers.features().items():
        doc.append(_schema(name, frame))
    colors = demand_colors(layers.routes["demand_id"])
    levels = level_colors(layers.jurisdictions_crossed["level"])
    doc.extend(_styles(colors, levels))
    doc.append(_sites_folder(layers.sites))
    for k, demand_id in enumerate(colors):
        doc.append(_demand_folder(layers, demand_id, k))
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    """A child element holding text (characters XML 1.0 forbids removed)."""
    child = ET.SubElement(parent, tag)
    child.text = _XML_FORBIDDEN.sub("", text)
    return child


def _schema(name: str, frame: pd.DataFrame) -> ET.Element:
    """A typed KML Schema for a layer's attributes."""
    schema = ET.Element("Schema", {"name": name, "id": name})
    for column in _attributes(frame):
        kind = _SCHEMA_TYPES.get(frame[column].dtype.kind, "string")
        ET.SubElement(schema, "SimpleField", {"name": column, "type": kind})
    return schema


def _attributes(frame: pd.DataFrame) -> list[str]:
    """A layer's attribute columns (all but geometry)."""
    return [c for c in frame.columns if c != frame.geometry.name]


def _kml_color(hex_rgb: str, alpha: int) -> str:
    """`#rrggbb` as KML's aabbggrr."""
    r, g, b = hex_rgb[1:3], hex_rgb[3:5], hex_rgb[5:7]
    return f"{alpha:02x}{b}{g}{r}"


def _styles(colors: Mapping[str, str], levels: Mapping[str, str]) -> list[ET.Element]:
    """Line styles per demand (primary and diverse), site icons and jurisdiction fills."""
    styles = []
    for k, color in enumerate(colors.values()):
        for suffix, width in (("", ROUTE_WIDTH_PX), ("-diverse", DIVERSE_WIDTH_PX)):
            style = ET.Element("Style", {"id": f"demand-{k}{suffix}"})
            line = ET.SubElement(style, "LineStyle")
            _text(line, "color", _kml_color(color, 0xFF))
            _text(line, "width", str(width))
            styles.append(style)
    for k, color in enumerate(levels.values()):
        style = ET.Element("Style", {"id": f"level-{k}"})
        line = ET.SubElement(style, "LineStyle")
        _text(line, "color", _kml_color(color, 0xFF))
        _text(line, "width", "1.5")
        _text(ET.SubElement(style, "PolyStyle"), "color", _kml_color(color, 0x33))
        styles.append(style)
    for name, color in (("site", "#ffffff"), ("site-unreachable", "#888888")):
        style = ET.Element("Style", {"id": name})
        icon = ET.SubElement(style, "IconStyle")
        _text(icon, "color", _kml_color(color, 0xFF))
        _text(ET.SubElement(icon, "Icon"), "href", SITE_ICON)
        styles.append(style)
    segment = ET.Element("Style", {"id": "segment"})
    line = ET.SubElement(segment, "LineStyle")
    _text(line, "color", "ff333333")
    _text(line, "width", "2")
    return [*styles, segment]


def _folder(name: str, *, visible: bool = True, description: str = "") -> ET.Element:
    """A KML Folder (a layer in GIS tools)."""
    folder = ET.Element("Folder")
    _text(folder, "name", name)
    if not visible:
        _text(folder, "visibility", "0")
    if description:
        _text(folder, "description", description)
    return folder


def _sites_folder(sites: pd.DataFrame) -> ET.Element:
    """Every site, unreachable ones greyed."""
    folder = _folder("sites")
    columns = _attributes(sites)
    for _, row in sites.iterrows():
        style = "site" if bool(row["reachable"]) else "site-unreachable"
        note = "" if bool(row["reachable"]) else f"<br>unreachable: {html.escape(str(row['reason']))}"
        description = f"{html.escape(str(row['name']))}{note}"
        folder.append(_placemark(str(row["site_id"]), description, style, "sites", row, columns))
    return folder


def _demand_folder(layers: ResultLayers, demand_id: str, k: int) -> ET.Element:
    """A demand's routes, then its segments and jurisdictions crossed (hidden at first)."""
    routes = layers.routes[layers.routes["demand_id"] == demand_id]
    statuses = ", ".join(
        f"route {int(r.route_index)}: {r.status} {r.reason}".strip() for r in routes.itertuples()
    )
    folder = _folder(demand_id, description=html.escape(statuses))
    columns = _attributes(routes)
    for _, row in routes.iterrows():
        style = f"demand-{k}" if int(row["route_index"]) == 0 else f"demand-{k}-diverse"
        name = f"{demand_id} route {int(row['route_index'])}"
        folder.append(_placemark(name, _route_description(row), style, "routes", row, columns))
    for layer, style in (("route_segments", "segment"), ("jurisdictions_crossed", None)):
        if part := _rows_of(layers, layer, demand_id, style):
            sub = _folder(f"{demand_id} {layer}", visible=False)
            sub.extend(part)
            folder.append(sub)
    return folder


def _rows_of(layers: ResultLayers, layer: str, demand_id: str, style: str | None) -> list[ET.Element]:
    """Placemarks of one demand's rows of a layer (segments or jurisdictions crossed)."""
    frame = getattr(layers, layer)
    frame = frame[frame["demand_id"] == demand_id]
    columns = _attributes(frame)
    levels = list(level_colors(layers.jurisdictions_crossed["level"]))
    marks = []
    for _, row in frame.iterrows():
        if layer == "route_segments":
            name = f"{demand_id} route {int(row['route_index'])} segment {int(row['seq'])}"
            description = f"{html.escape(str(row['kind']))}, {row['length_km']:.3f} km"
        else:
            name = str(row["name"])
            description = (
                f"{html.escape(str(row['level']))} {html.escape(str(row['jurisdiction_id']))}, "
                f"permit cost {row['permit_cost']:,.0f}"
            )
        row_style = style or f"level-{levels.index(row['level'])}"
        marks.append(_placemark(name, description, row_style, layer, row, columns))
    return marks


def _route_description(row: pd.Series) -> str:
    """A route's balloon: status and its figures, as a small HTML table."""
    if row.geometry is None or row.geometry.is_empty:
        return f"{html.escape(str(row['status']))}: {html.escape(str(row['reason']))}"
    cells = [
        ("status", row["status"]),
        ("sites", f"{row['a']} → {row['b']}"),
        ("length", f"{row['length_km']:,.1f} km"),
        ("latency", f"{row['latency_ms']:.3f} ms (bound {row['max_latency_ms']:.3f} ms)"),
        ("cost", f"{row['cost']:,.0f}"),
        ("build cost", f"{row['build_cost']:,.0f}"),
        ("permits", f"{int(row['permit_count'])} (cost {row['permit_cost']:,.0f})"),
    ]
    body = "".join(f"<tr><td>{k}</td><td>{html.escape(str(v))}</td></tr>" for k, v in cells)
    return f"<table>{body}</table>"


def _placemark(
    name: str, description: str, style: str, schema: str, row: pd.Series, columns: list[str]
) -> ET.Element:
    """A Placemark with its typed attributes and geometry (none where the row has none)."""
    mark = ET.Element("Placemark")
    _text(mark, "name", name)
    _text(mark, "description", description)
    _text(mark, "styleUrl", f"#{style}")
    data = ET.SubElement(ET.SubElement(mark, "ExtendedData"), "SchemaData", {"schemaUrl": f"#{schema}"})
    for column in columns:
        if (text := _value(row[column])) is not None:
            _text(data, "SimpleData", text).set("name", column)
    geometry = row.geometry
    if geometry is not None and not geometry.is_empty:
        mark.append(_geometry(geometry))
    return mark


def _value(value: object) -> str | None:
    """An attribute as KML text; None for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(float(value))
    return str(value.item() if hasattr(value, "item") else value)


def _coordinates(geometry: shapely.Geometry) -> str:
    """lon,lat pairs at full precision."""
    return " ".join(f"{x!r},{y!r}" for x, y in shapely.get_coordinates(geometry).tolist())


def _geometry(geometry: shapely.Geometry) -> ET.Element:
    """A shapely geometry as a KML geometry element."""
    kind = geometry.geom_type
    if kind == "Point":
        element = ET.Element("Point")
    elif kind == "LineString":
        element = ET.Element("LineString")
        _text(element, "tessellate", "1")
    elif kind == "Polygon":
        return _polygon(geometry)
    else:
        element = ET.Element("MultiGeometry")
        element.extend(_geometry(part) for part in geometry.geoms)
        return element
    _text(element, "coordinates", _coordinates(geometry))
    return element


def _polygon(polygon: shapely.Polygon) -> ET.Element:
    """A polygon with its outer and inner rings."""
    element = ET.Element("Polygon")
    _text(element, "tessellate", "1")
    rings = [("outerBoundaryIs", polygon.exterior)] + [("innerBoundaryIs", r) for r in polygon.interiors]
    for tag, ring in rings:
        _text(ET.SubElement(ET.SubElement(element, tag), "LinearRing"), "coordinates", _coordinates(ring))
    return element
