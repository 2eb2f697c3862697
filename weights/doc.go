// Package weights reads and writes checkpoint files (safetensors, PyTorch zip and
// legacy torch.save streams) and maps parameter names between the torchvision, CIFAR
// (akamaster) and Hugging Face transformers ResNet layouts.
//
// Every reader validates its input and returns an error naming the file and tensor
// instead of panicking: checkpoints come from the internet. PyTorch pickles are run by
// a small pickle machine that only knows how to rebuild tensors and ordered dicts and
// refuses every other global, so a hostile pickle cannot execute anything.
package weights
