"""Speed curves: any playback speed over source time, slower and faster, with freezes.

`curve` (the checked data), `limits` (the one owner of the limits and eases), `stretch` and `realise` (the whole
frame rounding, the integral and its inverse, the time map), `parse` (keyframe text, presets, files, per-frame
lists), `presets`, `shutter` (motion blur for the faster parts).
"""
