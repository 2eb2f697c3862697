// Package datasets reads labelled image collections and cuts them into training batches.
//
// Sources: CIFAR-10 binary batches, image folders (one sub-folder per class, as torchvision's
// ImageFolder) read from a directory or straight from a .tar / .tar.gz, and MNIST-style IDX
// files (MNIST, Fashion-MNIST), plain or gzipped, and Hugging Face hub datasets in Parquet
// (hf:ORG/NAME[:CONFIG][@REV][/SPLIT], see ResolveHF; the file format is datasets/hfparquet's).
// A --dataset flag names one as KIND:PATH (see ParseSpec).
//
// Two forms of the data:
//   - []Example: one *imageproc.RGB per image, any size, what evaluation through a model's
//     own preprocessor wants (grayscale is replicated to RGB);
//   - *Dataset: same-size images in one uint8 block, planar N×C×H×W with C = 1 (IDX) or 3,
//     what a Loader cuts into float32 NCHW mini-batches with seeded shuffling and
//     He et al. augmentation (pad, random crop, horizontal flip) and per-channel
//     normalisation.
//
// MapLabels matches a dataset's class names to a model's labels (id2label) by name, so that
// an evaluation scores a prediction against the model class of each example's class, never
// against the dataset's own index.
//
// Everything random is a pure function of (seed, epoch, example index), so a run resumed at
// any (epoch, batch) sees the same bytes as an uninterrupted one, whatever the worker count.
package datasets
