"""The learned engines ``rife`` (RIFE 4.2x) and ``film`` (FILM): Deepshop's own torch definitions of these networks,
reading the weight files core ComfyUI reads (Practical-RIFE's ``flownet.pkl``, Comfy-Org's ``.safetensors`` repacks).

| module | responsibility |
|---|---|
| ``engine.py`` | the engines (`RifeEngine`, `FilmEngine`): options, loading, closing; driven by `TimestepNetEngine` |
| ``files.py`` | the known weight files, the search order, the checksum-verified download (no torch) |
| ``devices.py`` | ``device`` / ``precision``: the vocabulary (no torch) and what it means here (torch) |
| ``checkpoint.py`` | reading a file safely (safetensors, ``torch.load(weights_only=True)``), telling RIFE from FILM |
| ``ifnet.py`` | RIFE 4.2x (IFNet), its configuration read from the weights |
| ``film.py`` | FILM |

Importing this package, ``engine.py``, ``files.py`` or ``devices.py`` does not import torch.
"""
