"""Speed curves: any playback speed over source time, slower and faster, with freezes (docs/speed_curves.md).

`limits` (the one owner of the limits and eases), `curve` (the checked data), `stretch` and `realise` (whole-frame
rounding, the integral and its inverse, positions, the time map), `parse` (keyframe text, presets, files, per-frame
lists), `presets`, `dryrun` (where keyframes land), `shutter` (motion blur for the faster parts).
"""
