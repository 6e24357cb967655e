//! torchvision's geometry, shared by the pipelines that reproduce it (Pillow's torchvision
//! recipes, torchvision on tensors, MLPerf's OpenCV resize): the short-side resize and the
//! centre crop's offset, in Python's integer and float arithmetic.

/// torchvision `Resize(size)` on an image of `width` x `height`: the short side becomes `size`,
/// the long side `int(size * long / short)`. Python's `/` on ints is correctly rounded, which
/// for integers below 2^53 is exactly an f64 division; `int()` truncates.
pub fn shorter_side_size(width: usize, height: usize, size: usize) -> (usize, usize) {
    let scaled = |long: usize, short: usize| ((size * long) as f64 / short as f64) as usize;
    if width <= height {
        (size, scaled(height, width))
    } else {
        (scaled(width, height), size)
    }
}

/// torchvision `center_crop` along one axis of length `len` to `crop`: zero-pad by
/// `(crop - len) // 2` before when the crop is larger, else start at `int(round((len - crop) / 2))`
/// with Python's round-half-to-even.
pub fn center_crop_offset(len: usize, crop: usize) -> i64 {
    if crop > len {
        return -(((crop - len) / 2) as i64);
    }
    let diff = (len - crop) as i64;
    let half = diff / 2;
    // (len - crop) / 2 is k or k + 0.5; k + 0.5 rounds to the even one of k and k + 1.
    if diff % 2 == 1 && half % 2 == 1 {
        half + 1
    } else {
        half
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorter_side_follows_python_int_of_float_division() {
        assert_eq!(shorter_side_size(500, 375, 256), (341, 256));
        assert_eq!(shorter_side_size(375, 500, 256), (256, 341));
        assert_eq!(shorter_side_size(300, 300, 224), (224, 224));
        // int(256 * 2112 / 2816) = int(192.0) exactly.
        assert_eq!(shorter_side_size(2112, 2816, 192), (192, 256));
        // A case where the quotient is just below an integer in exact arithmetic.
        assert_eq!(shorter_side_size(3, 10, 3), (3, 10));
        assert_eq!(shorter_side_size(7, 10, 7), (7, 10));
    }

    #[test]
    fn center_crop_offsets_match_torchvision() {
        assert_eq!(center_crop_offset(256, 224), 16);
        // (341 - 224) / 2 = 58.5 -> round half to even -> 58.
        assert_eq!(center_crop_offset(341, 224), 58);
        // 59.5 -> 60.
        assert_eq!(center_crop_offset(343, 224), 60);
        assert_eq!(center_crop_offset(224, 224), 0);
        // Crop larger than the image: pad (299 - 256) // 2 = 21 before, 22 after.
        assert_eq!(center_crop_offset(256, 299), -21);
        assert_eq!(center_crop_offset(257, 299), -21);
    }
}
