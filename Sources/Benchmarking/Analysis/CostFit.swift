/// The cost model cost(K) ≈ (K·c + p)/(K + 1), fitted by least squares.
///
/// At ring size K the vCPU writes K entries into the ring (each costing c: the exit to
/// the kernel and `coalesced_mmio_write`) and the next write finds the ring full and
/// exits to userspace (costing p: the same plus a `KVM_RUN` round trip). Written in
/// x = 1/(K + 1) the model is a straight line, cost = c + (p − c)·x, so an ordinary
/// least-squares line through (x, ns/write) gives c as its intercept and p − c as its
/// slope.
public struct CostFit: Sendable, Equatable {
  /// c, ns: the intercept.
  public var coalescedNs: Double
  /// p, ns: intercept plus slope (the cost at x = 1, K = 0).
  public var exitNs: Double
  /// Coefficient of determination, clamped to 0…1; 1 when every point is on the line.
  public var rSquared: Double
  /// Points the fit used.
  public var points: Int

  /// Fits the points, or nil where no line is defined: fewer than two distinct ring
  /// sizes (one point, or the same K repeated) or fewer than two finite figures.
  /// Never NaN: non-finite figures (runs that never completed) are left out.
  /// Ring sizes may be means: the sizes achieved where a pre-6.12 kernel could not be granted
  /// exactly K.
  public init?(points: [(ringSize: Double, nsPerWrite: Double)]) {
    let usable = points.filter { $0.nsPerWrite.isFinite && $0.ringSize.isFinite }
    // Distinctness is decided on the integers: 1/(K+1) for equal K can differ in the
    // last bit after averaging, which would make a vanishing Sxx look like a slope.
    guard Set(usable.map(\.ringSize)).count >= 2 else { return nil }
    let xs = usable.map { 1 / (Double($0.ringSize) + 1) }
    let ys = usable.map(\.nsPerWrite)
    let n = Double(xs.count)
    let meanX = xs.reduce(0, +) / n
    let meanY = ys.reduce(0, +) / n
    var sxx = 0.0
    var sxy = 0.0
    var syy = 0.0
    for (x, y) in zip(xs, ys) {
      sxx += (x - meanX) * (x - meanX)
      sxy += (x - meanX) * (y - meanY)
      syy += (y - meanY) * (y - meanY)
    }
    guard sxx > 0 else { return nil }
    let slope = sxy / sxx
    let intercept = meanY - slope * meanX
    var residual = 0.0
    for (x, y) in zip(xs, ys) {
      let error = y - (intercept + slope * x)
      residual += error * error
    }
    // All figures equal (to rounding): the horizontal line fits them exactly.
    let flat = syy <= meanY * meanY * n * 1e-24
    let rSquared = flat ? 1 : min(1, max(0, 1 - residual / syy))
    guard intercept.isFinite, slope.isFinite, rSquared.isFinite else { return nil }
    self.coalescedNs = intercept
    self.exitNs = intercept + slope
    self.rSquared = rSquared
    self.points = xs.count
  }
}
