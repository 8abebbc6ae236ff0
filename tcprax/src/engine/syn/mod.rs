//! -sS: the XDP SYN scan engine (being written).
