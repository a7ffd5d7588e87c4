"""Every limit the package puts on what an input may make it do, in one place, each with the
reason for its number. README's "Limits" section states the same values (a test compares
them). Standard library only, so the data layer, the engine side and the command line share
them without importing each other. Leaves out: the checks, which sit next to the code that
reads the input.
"""

MiB = 1 << 20

# ------------------------------------------------------------------ models
# Networks with more parameters are refused before anything is allocated, by `train --sizes`
# and by `load`: 784-30-10 has 23,860 and 784-128-128-10 118,282; 50M float32 numbers are
# 200 MB. It only stops typos (--sizes 784 3000000 10) and hostile model files.
MAX_PARAMETERS = 50_000_000
# One layer's activations for a whole batch, in numbers: 100M float32 numbers are 400 MB, and a
# forward and backward pass hold a few such arrays at once (explain, graph, train --arch).
MAX_ACTIVATIONS = 100_000_000
# Characters of the JSON architecture inside a model file (stored as 4 bytes each): a
# 784-30-10 MLP's has 80; MAX_LAYERS layers fit.
MAX_ARCHITECTURE_CHARS = 1_000_000
# Layers in one architecture, and how deeply Sequentials may nest.
MAX_LAYERS = 10_000
MAX_NESTING = 100

# ------------------------------------------------------------------ data files
# Bytes read from one data file, counted after gzip decompression, checked while streaming.
# The largest genuine inputs: Nielsen's mnist.pkl.gz unpacks to 220 MB, Kaggle's train.csv
# is 73 MB, Fashion-MNIST as CSV 133 MB, MNIST's training images 47 MB.
MAX_DATA_BYTES = 256 * MiB
# Characters on one CSV line: a row of 785 values is at most 3,140 ("255," 785 times).
MAX_CSV_LINE = 64 * 1024
# The pickle machine: opcodes run (Nielsen's pickle runs about 200), the largest protocol-4
# frame (the pickler writes frames of about 64 kB), and how deeply tuples and lists nest
# (Nielsen's: 2). Every container is rebuilt once however often it is referenced, so shared
# references are never expanded.
MAX_PICKLE_OPCODES = 100_000
MAX_PICKLE_FRAME = 1 * MiB
MAX_PICKLE_NESTING = 8

# ------------------------------------------------------------------ images and figures
# Pixels of a picture that is decoded at all, checked from its header before decoding (Pillow's
# Image.open reads only the header; `digits` checks the size before load()).
MAX_IMAGE_PIXELS = 1 << 24
# Panels in one figure: `show` draws at most this many hidden units (an even sample of a
# wider layer, and says so) or misclassified digits (-n).
MAX_FIGURE_PANELS = 100

# ------------------------------------------------------------------ downloads
# Wall-clock time for one download call, all files and mirrors included (seconds).
DOWNLOAD_DEADLINE = 900.0
# A file whose size the catalog does not know is cut off past this many bytes; known files
# (the four MNIST and Fashion-MNIST files) at their own size. Fashion-MNIST's training images,
# the largest, are 26 MB.
MAX_DOWNLOAD_BYTES = 64 * MiB
# Partial downloads (.part) and temporary saves (.tmp-*) older than this are removed from the
# cache by the next run: a killed process cannot remove its own.
STALE_SECONDS = 24 * 3600
