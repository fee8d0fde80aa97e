"""``python -m lomo_ablate.render.distort sheet.png``: a contact sheet of every distortion op."""
from lomo_ablate.render.distort.sheet import main

main()
