//! An 8-bit RGB image in row-major, interleaved (HWC) order: what Pillow holds after
//! `convert('RGB')`, and what every resampling and cropping step works on.

#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    /// `height * width * 3` bytes, row after row, R G B per pixel.
    pub pixels: Vec<u8>,
}

impl RgbImage {
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Self {
        assert_eq!(
            pixels.len(),
            width * height * 3,
            "pixel buffer does not match {width}x{height}"
        );
        Self {
            width,
            height,
            pixels,
        }
    }

    pub fn zeroed(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            pixels: vec![0; width * height * 3],
        }
    }

    pub fn row(&self, y: usize) -> &[u8] {
        &self.pixels[y * self.width * 3..(y + 1) * self.width * 3]
    }
}

/// A rectangle of a pixel grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

impl Window {
    pub fn full(width: usize, height: usize) -> Self {
        Self {
            x: 0,
            y: 0,
            width,
            height,
        }
    }

    pub fn columns(&self) -> std::ops::Range<usize> {
        self.x..self.x + self.width
    }

    pub fn rows(&self) -> std::ops::Range<usize> {
        self.y..self.y + self.height
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, other: &Window) -> Window {
        let x = self.x.min(other.x);
        let y = self.y.min(other.y);
        Window {
            x,
            y,
            width: (self.x + self.width).max(other.x + other.width) - x,
            height: (self.y + self.height).max(other.y + other.height) - y,
        }
    }

    /// Whether `other` lies inside this rectangle.
    pub fn contains(&self, other: &Window) -> bool {
        other.x >= self.x
            && other.y >= self.y
            && other.x + other.width <= self.x + self.width
            && other.y + other.height <= self.y + self.height
    }
}

/// Where an image's pixels lie in the full picture they were decoded from: a decoder asked for
/// part of a picture returns that part, and `window` says which part of the
/// `full_width` x `full_height` picture it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub window: Window,
    pub full_width: usize,
    pub full_height: usize,
}

impl Placement {
    /// The image is the whole picture.
    pub fn whole(image: &RgbImage) -> Self {
        Self {
            window: Window::full(image.width, image.height),
            full_width: image.width,
            full_height: image.height,
        }
    }
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}x{})", self.width, self.height)
    }
}
