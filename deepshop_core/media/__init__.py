"""Media files in and out, in-process with PyAV, one module per job:

- ``opener``: a path to an open container (``open_media``, ``VideoInput``), or a clear `MediaError`;
- ``probe``: what a video holds (``probe`` -> ``VideoInfo``, carrying its timing scan);
- ``decode``: frames by index (``read_frames``), streaming;
- ``formats``: the output formats and containers (``FORMATS``, ``format_for_path``);
- ``encode``: ``VideoWriter``, streaming and atomic;
- ``audio``: ``Audio`` and its reading, cutting and stretching.

Frames are HxWx3 uint8 RGB arrays with the file's rotation applied; frame indices count frames in presentation order.
This package's ``__init__`` imports nothing, so each caller imports the module it needs.
"""
