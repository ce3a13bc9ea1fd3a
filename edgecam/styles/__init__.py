"""Styled instant-photo rendering.

Modules, one job each: ``spec`` (the preset model), ``films`` (physical film formats),
``grade`` (.cube LUTs, curves, saturation, warmth), ``enhance`` (auto contrast, low light),
``background`` (blur / colour / image behind a matte), ``finish`` (vignette, grain, caption),
``card`` (border and rounded corners), ``book`` (presets, LUT files, scene → style map),
``render`` (crop and render), ``dither`` (1-bit for thermal printers).

Nothing is imported here on purpose: ``edgecam.config`` imports ``styles.spec`` at start-up and
should not pay for OpenCV and Pillow.
"""
