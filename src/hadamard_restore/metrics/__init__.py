"""Image-quality metrics: PSNR (:mod:`.psnr`), SSIM (:mod:`.ssim`; own torch code, checked against
scikit-image) and LPIPS (:mod:`.perceptual`), plus the GT-mean rescaling (:mod:`.gt_mean`). Each
takes a restored batch ``x`` and a reference batch ``y`` of shape (B, 3, H, W) (a single (3, H, W)
image is treated as B = 1) and returns a float64 (B,) tensor (LPIPS: float32), one score per image.
Protocol (docs/evaluation.md §4): RGB by default, ``data_range`` explicit, optional BT.601
``y_channel`` and ``crop_border``.
"""
