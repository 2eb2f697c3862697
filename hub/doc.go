// Package hub downloads files from the Hugging Face Hub into the same on-disk cache that
// huggingface_hub (Python) uses, so checkpoints fetched by either side are shared.
//
// Files are resolved with a HEAD on {endpoint}/{repo}/resolve/{revision}/{file}, stored once per
// content hash under blobs/, and exposed per commit under snapshots/ as relative symlinks.
// Downloads resume after interruptions and are verified (size, and sha256 for LFS files) before
// they enter the cache, so a partial or corrupted transfer is never served later.
//
// Dataset repos (DatasetFiles, DownloadDataset) use the same code with the "datasets/" URL
// segment and datasets--org--name folders; revisions with slashes (refs/convert/parquet, the
// dataset viewer's Parquet export) become nested refs/ folders, as in huggingface_hub.
package hub
