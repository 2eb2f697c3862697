// Package train trains ResNets: a network built from an arch.Spec with forward passes in
// training mode (batch statistics) and eval mode (running statistics), the backward pass,
// softmax cross-entropy, PyTorch's SGD (momentum, dampening, Nesterov, weight decay with an
// optional exemption for BatchNorm parameters and biases), learning-rate schedules and
// torchvision's initialisation. Parameters carry Hugging Face names exactly as
// arch.Spec.Params lists them, so StateDict feeds model.New and checkpoints load back.
//
// Activations are kept channel-major ([C, N, H, W], see package nn) for the whole batch;
// inputs arrive as PyTorch's NCHW.
package train
