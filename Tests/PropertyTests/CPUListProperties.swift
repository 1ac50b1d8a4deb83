import KVM
import PropertyBased
import Testing

/// Any CPU number the grammar accepts.
private let cpu = Gen.int(in: 0...CPUList.maximumCPU)

/// Runs of CPUs: (first CPU, how many more follow it).
private let runs = zip(cpu, Gen.int(in: 0...40)).array(of: 1...8)

/// The CPUs a list of runs names, clamped to the grammar's ceiling.
private func cpus(of runs: [(Int, Int)]) -> [Int] {
  runs.flatMap { start, extra in start...min(start + extra, CPUList.maximumCPU) }
}

/// Whether the parser refuses `text` (and says why in one non-empty message).
private func rejects(_ text: String) -> Bool {
  do {
    _ = try CPUList(parsing: text)
    return false
  } catch {
    return !error.reason.isEmpty && error.text == text
  }
}

/// A valid list built from runs, items in the given order: `a` or `a-b`.
private func items(of runs: [(Int, Int)]) -> [String] {
  runs.map { start, extra in
    let end = min(start + extra, CPUList.maximumCPU)
    return end == start ? "\(start)" : "\(start)-\(end)"
  }
}

/// Characters that are none of the grammar's (`0-9`, `,`, `-`, `:`): Latin-1 controls,
/// letters and signs, and digits of other scripts that `Character.isNumber` accepts.
private let junk = zip(Gen<UInt8>.value(in: 0...255), Gen.int(in: 0...9)).map { byte, pick -> Character in
  let exotic: [Character] = ["\u{FF11}", "\u{0663}", "\u{00B3}", "\u{00BD}", "\u{2212}", "\u{2013}", "\u{3000}"]
  let scalar = Character(UnicodeScalar(byte))
  if pick < 3 || "0123456789,-:".contains(scalar) { return exotic[(Int(byte) + pick) % exotic.count] }
  return scalar
}

@Suite("CPUList(parsing:) properties")
struct CPUListProperties {
  @Test("any non-empty set of CPUs survives description → parse unchanged")
  func roundTrip() async {
    await propertyCheck(input: runs, cpu.array(of: 0...10)) { runs, singles in
      let list = CPUList(cpus(of: runs) + singles)
      let parsed = try CPUList(parsing: list.description)
      #expect(parsed == list)
      #expect(parsed.cpus == Set(cpus(of: runs) + singles).sorted())
      #expect(parsed.description == list.description)
    }
  }

  @Test("items in any order, overlapping or repeated, parse to their union")
  func unionOfItems() async {
    await propertyCheck(input: runs, Gen.int(in: 0...1000)) { runs, seed in
      var texts = items(of: runs)
      texts.append(texts[seed % texts.count])
      let shuffled = texts.enumerated().sorted { ($0.offset * 7919 + seed) % 101 < ($1.offset * 7919 + seed) % 101 }
      let text = shuffled.map(\.element).joined(separator: ",")
      let parsed = try CPUList(parsing: text)
      #expect(parsed.cpus == Set(cpus(of: runs)).sorted())
    }
  }

  @Test("a reversed range anywhere in the list is rejected")
  func reversedRange() async {
    await propertyCheck(input: runs, cpu, cpu, Gen.int(in: 0...8)) { runs, a, b, position in
      guard a != b else { return }
      var texts = items(of: runs)
      texts.insert("\(max(a, b))-\(min(a, b))", at: position % (texts.count + 1))
      #expect(rejects(texts.joined(separator: ",")))
    }
  }

  @Test("an empty item (leading, trailing or doubled comma) is rejected")
  func emptyItem() async {
    await propertyCheck(input: runs, Gen.int(in: 0...8)) { runs, position in
      var texts = items(of: runs)
      texts.insert("", at: position % (texts.count + 1))
      #expect(rejects(texts.joined(separator: ",")))
    }
    #expect(rejects(""))
    #expect(rejects(","))
    #expect(rejects("-"))
  }

  @Test("a sign before any number is rejected")
  func signs() async {
    let sign = Gen<Character?>.element(of: ["+", "-"] as [Character]).map { $0 ?? "+" }
    await propertyCheck(input: runs, Gen.int(in: 0...8), sign, Gen.bool) { runs, index, sign, upper in
      var texts = items(of: runs)
      let i = index % texts.count
      if upper, let dash = texts[i].firstIndex(of: "-") {
        texts[i].insert(sign, at: texts[i].index(after: dash))
      } else {
        texts[i].insert(sign, at: texts[i].startIndex)
      }
      #expect(rejects(texts.joined(separator: ",")))
    }
  }

  @Test("whitespace anywhere is rejected")
  func whitespace() async {
    let space = Gen<Character?>.element(of: [" ", "\t", "\n", "\r", "\u{A0}"] as [Character]).map { $0 ?? " " }
    await propertyCheck(input: runs, Gen.int(in: 0...400), space) { runs, offset, space in
      var text = items(of: runs).joined(separator: ",")
      text.insert(space, at: text.index(text.startIndex, offsetBy: offset % (text.count + 1)))
      #expect(rejects(text))
    }
  }

  @Test("any other character anywhere is rejected, other scripts' digits included")
  func junkCharacters() async {
    await propertyCheck(count: 300, input: runs, Gen.int(in: 0...400), junk) { runs, offset, junk in
      var text = items(of: runs).joined(separator: ",")
      text.insert(junk, at: text.index(text.startIndex, offsetBy: offset % (text.count + 1)))
      #expect(rejects(text))
    }
  }

  @Test("numbers above the maximum are rejected, however many digits they have")
  func aboveMaximum() async throws {
    let big = Gen.int(in: (CPUList.maximumCPU + 1)...Int.max)
    let digits = Gen.number.string(of: 5...60)
    await propertyCheck(input: runs, big, digits, Gen.int(in: 0...8)) { runs, big, digits, position in
      for number in ["\(big)", "9" + digits, "\(CPUList.maximumCPU + 1)" + digits] {
        for form in ["\(number)", "0-\(number)", "\(number)-\(number)"] {
          var texts = items(of: runs)
          texts.insert(form, at: position % (texts.count + 1))
          #expect(rejects(texts.joined(separator: ",")), "\(form)")
        }
      }
    }
    #expect(try CPUList(parsing: "\(CPUList.maximumCPU)").cpus == [CPUList.maximumCPU])
  }

  @Test("more than two bounds in an item is rejected")
  func threeBounds() async {
    await propertyCheck(input: cpu, cpu, cpu) { a, b, c in
      #expect(rejects("\(a)-\(b)-\(c)"))
    }
  }

  @Test("A-B:S names every S-th CPU from A up to B, as taskset -c does")
  func strides() async throws {
    await propertyCheck(input: cpu, Gen.int(in: 0...300), Gen.int(in: 1...70)) { start, span, step in
      let end = min(start + span, CPUList.maximumCPU)
      let parsed = try CPUList(parsing: "\(start)-\(end):\(step)")
      #expect(parsed.cpus == Array(stride(from: start, through: end, by: step)))
      #expect(parsed.cpus.first == start)
      #expect(parsed.cpus.allSatisfy { ($0 - start) % step == 0 && $0 <= end })
      #expect(try CPUList(parsing: "\(start)-\(end):1") == CPUList(parsing: "\(start)-\(end)"))
      #expect(try CPUList(parsing: "\(start)-\(end):\(CPUList.maximumCPU)").cpus == [start])
    }
    #expect(try CPUList(parsing: "0-10:2").cpus == [0, 2, 4, 6, 8, 10])
    #expect(try CPUList(parsing: "1-10:3,0").cpus == [0, 1, 4, 7, 10])
  }

  @Test("a stride that is 0, empty, signed, above the maximum, doubled or without a range is rejected")
  func badStrides() async {
    await propertyCheck(input: runs, cpu, cpu, Gen.int(in: 0...8)) { runs, a, b, position in
      let (low, high) = (min(a, b), max(a, b))
      for form in [
        "\(low)-\(high):0", "\(low)-\(high):", "\(low)-\(high):+2", "\(low)-\(high):-2",
        "\(low)-\(high):\(CPUList.maximumCPU + 1)", "\(low)-\(high):2:2", "\(low):2", ":2", "\(low)-\(high)::2",
        "\(low)-:2", "-\(high):2",
      ] {
        var texts = items(of: runs)
        texts.insert(form, at: position % (texts.count + 1))
        #expect(rejects(texts.joined(separator: ",")), "\(form)")
      }
    }
  }
}
