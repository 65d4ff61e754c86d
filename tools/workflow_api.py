"""Convert a ComfyUI workflow in the UI format (what users share; ``"version": 0.4``, ``nodes`` with
``widgets_values``, ``links``) to the API format that ``POST /prompt`` executes, using ``/object_info`` for the
order of each node's widgets. Standard library only.

The browser test checks this converter against the frontend's own ``app.graphToPrompt()`` on every workflow.

Handled: frontend-only nodes (Note, MarkdownNote) dropped; Reroute nodes followed; muted nodes (mode 2) dropped;
widgets turned into inputs (a link on an input that also has a widget value); the extra value that follows a
``control_after_generate`` widget (seeds); the upload button and preview values the editor appends after all
widgets of an upload node (ignored); ``widgets_values`` as a list or as a dict; V3 nested combos (ComfyUI 0.33's
``COMFY_DYNAMICCOMBO_V3``, e.g. SaveVideo's ``format``): the chosen option's own inputs follow it as widgets named
``<combo>.<input>``, as the editor names them.
"""

from __future__ import annotations

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
NESTED_COMBO = "COMFY_DYNAMICCOMBO_V3"  # a combo whose chosen option brings inputs of its own (ComfyUI 0.33)
VIRTUAL_NODES = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
UPLOAD_FLAGS = ("image_upload", "video_upload", "audio_upload", "animated_image_upload")


class ConversionError(ValueError):
    pass


def is_widget(spec) -> bool:
    """Whether the editor shows this input as a widget (and stores a value for it in ``widgets_values``):
    a COMBO or a primitive type, unless declared ``forceInput`` (a plain socket)."""
    kind = spec[0]
    if _options(spec).get("forceInput"):
        return False
    return isinstance(kind, list) or kind in WIDGET_TYPES or kind == NESTED_COMBO


def _widget_specs(name: str, spec, value) -> list[tuple[str, object]]:
    """The widgets one declared input stands for, in the editor's order: itself, then, for a nested combo, the
    inputs of the option ``value`` chooses (``<name>.<input>``; their own choices are not known here, so only one
    level is expanded, enough for every node these workflows use)."""
    widgets = [(name, spec)]
    if spec[0] == NESTED_COMBO:
        for option in _options(spec).get("options", []):
            if option.get("key") == value:
                for group in ("required", "optional"):
                    for sub, sub_spec in option.get("inputs", {}).get(group, {}).items():
                        if is_widget(sub_spec):
                            widgets.append((f"{name}.{sub}", sub_spec))
    return widgets


def _options(spec) -> dict:
    return spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}


def _extra_values(name: str, spec) -> int:
    """Widget values the frontend stores after this widget's own value."""
    opts = _options(spec)
    extra = 0
    if spec[0] in ("INT", "FLOAT") and (opts.get("control_after_generate") or name in ("seed", "noise_seed")):
        extra += 1
    return extra


def convert(workflow: dict, object_info: dict) -> dict:
    """The API-format prompt for ``workflow`` (UI format)."""
    if "nodes" not in workflow or "links" not in workflow:
        raise ConversionError("not a UI-format workflow (no 'nodes'/'links'); API-format files need no conversion")
    nodes = {int(n["id"]): n for n in workflow["nodes"]}
    links = {}
    for link in workflow["links"]:
        if isinstance(link, dict):  # some exporters write links as objects
            links[int(link["id"])] = (int(link["origin_id"]), int(link["origin_slot"]))
        else:
            links[int(link[0])] = (int(link[1]), int(link[2]))

    def source(link_id: int) -> tuple[int, int] | None:
        seen = set()
        while True:
            if link_id not in links:
                raise ConversionError(f"link {link_id} is not in the workflow's links")
            node_id, slot = links[link_id]
            node = nodes.get(node_id)
            if node is None:
                raise ConversionError(f"link {link_id} comes from node {node_id}, which is not in the workflow")
            if node.get("type") != "Reroute":
                return (None if node.get("mode") == 2 else (node_id, slot))
            if node_id in seen:
                raise ConversionError("a loop of Reroute nodes")
            seen.add(node_id)
            inputs = node.get("inputs") or []
            if not inputs or inputs[0].get("link") is None:
                return None
            link_id = int(inputs[0]["link"])

    prompt: dict[str, dict] = {}
    for node_id, node in sorted(nodes.items()):
        kind = node.get("type")
        if kind in VIRTUAL_NODES or node.get("mode") in (2, 4):
            continue
        if kind not in object_info:
            raise ConversionError(f"node {node_id}: type {kind!r} is unknown to this ComfyUI (missing node pack?)")
        info = object_info[kind]
        order = info.get("input_order") or {s: list(info["input"].get(s, {})) for s in ("required", "optional")}
        specs = {**info["input"].get("required", {}), **info["input"].get("optional", {})}
        linked = {}
        for inp in node.get("inputs") or []:
            if inp.get("link") is not None:
                src = source(int(inp["link"]))
                if src is not None:
                    linked[inp["name"]] = [str(src[0]), src[1]]
        values = node.get("widgets_values")
        if values is None:
            values = []
        inputs: dict = {}
        position = 0
        for name in [*order.get("required", []), *order.get("optional", [])]:
            spec = specs[name]
            if is_widget(spec):
                first = (values.get(name) if isinstance(values, dict) else
                         values[position] if position < len(values) else None)
                for widget, widget_spec in _widget_specs(name, spec, first):
                    if isinstance(values, dict):
                        if widget in values:
                            inputs[widget] = values[widget]
                    else:
                        if position < len(values):
                            inputs[widget] = values[position]
                        # (an upload widget's button and preview come after all the declared widgets: ignored)
                        position += 1 + _extra_values(widget, widget_spec)
            if name in linked:
                inputs[name] = linked[name]
        prompt[str(node_id)] = {"class_type": kind, "inputs": inputs, "_meta": {"title": node.get("title") or kind}}
    return prompt
