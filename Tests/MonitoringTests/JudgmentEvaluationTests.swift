import Testing
@testable import Monitoring

/// What `ai-sysadmin eval` reads (labels) and computes (the score), without a log or a model.
@Suite struct JudgmentEvaluationTests {
    @Test func labelsAreReadFromCSVWithHeaderAndNotesOrFromJSONLines() throws {
        let csv = try JudgmentLabels(parsing: "# incidents of the night\nline,label,note\n12,error,disk full, again\n\n40, critical \n41,normal\n7,alert\n")
        #expect(csv.expected == [12: .atLeast(.error), 40: .atLeast(.critical), 41: .normal, 7: .alert])
        let json = try JudgmentLabels(parsing: #"{"line": 3, "label": "warning", "why": "x"}"# + "\n" + #"{"line": 9, "label": "info"}"#)
        #expect(json.expected == [3: .atLeast(.warning), 9: .normal])
    }

    @Test func badLabelsAreRefusedNamingTheLineAndTheProblem() {
        func problem(_ text: String) -> String? {
            do {
                _ = try JudgmentLabels(parsing: text)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(problem("1,error\n2,catastrophic\n") == "line 2: 'catastrophic' is not a label; use one of normal, info, alert, warning, error, critical")
        #expect(problem("1,error\n1,warning\n") == "line 2: entry 1 is labelled twice")
        #expect(problem("0,error\n") == "line 1: the entry number must be 1 or more, got 0")
        #expect(problem("x,error\n") == "line 1: 'x' is not an entry number")
        #expect(problem("5\n") == "line 1: expected 'line,label', got '5'")
        #expect(problem(#"{"line": 1, "label": "error"}"# + "\n2,error\n") == "line 2: not a JSON object (the file's first label is JSON, so every label must be)")
        #expect(problem(#"{"line": "1", "label": "error"}"#) == #"line 1: "line" must be a whole number"#)
        #expect(problem(#"{"line": true, "label": "error"}"#) == #"line 1: "line" must be a whole number"#)
        #expect(problem(#"{"line": 1.5, "label": "error"}"#) == #"line 1: "line" must be a whole number"#)
        #expect((try? JudgmentLabels(parsing: "\u{FEFF}line,label\n3,error\n"))?.expected == [3: .atLeast(.error)], "a byte-order mark is no label")
    }

    func event(_ severity: Severity, _ source: TriggerEvent.Source = .model) -> JudgmentScore.Flag {
        JudgmentScore.Flag(severity: severity, source: source)
    }

    @Test func theScoreCountsRecallPrecisionAndFalsePositivesPerLineAndPerTemplate() throws {
        var score = JudgmentScore(keepMistakes: 2)
        // Template 1: two incidents, one found at its severity, one too low. Template 2: normal, one false alarm.
        // Template 3: an incident missed. Template 4: normal, quiet.
        score.record(line: 1, templateID: 1, message: "disk on fire", expected: .atLeast(.error), event: event(.error, .signature("io-error")))
        score.record(line: 2, templateID: 1, message: "disk on fire again", expected: .atLeast(.critical), event: event(.error))
        score.record(line: 3, templateID: 2, message: "GET /", expected: .normal, event: event(.warning))
        score.record(line: 4, templateID: 2, message: "GET /x", expected: .normal, event: nil)
        score.record(line: 5, templateID: 3, message: "oops", expected: .alert, event: nil)
        score.record(line: 6, templateID: 4, message: "cron ran", expected: .normal, event: nil)
        score.recordBurst()
        score.finish()

        #expect((score.lines.recall.count, score.lines.recall.of) == (2, 3))
        #expect((score.lines.severityRecall.count, score.lines.severityRecall.of) == (1, 3))
        #expect((score.lines.precision.count, score.lines.precision.of) == (2, 3))
        #expect((score.lines.falsePositiveRate.count, score.lines.falsePositiveRate.of) == (1, 3))
        #expect((score.templates.recall.count, score.templates.recall.of) == (1, 2))
        #expect((score.templates.severityRecall.count, score.templates.severityRecall.of) == (0, 2))
        #expect((score.templates.precision.count, score.templates.precision.of) == (1, 2))
        #expect((score.templates.falsePositiveRate.count, score.templates.falsePositiveRate.of) == (1, 2))
        #expect(score.burstEvents == 1 && score.eventsBySource == ["signature:io-error": 1, "model": 2, "error-rate": 1])
        #expect(score.mistakeCount == 3 && score.mistakes.map(\.line) == [2, 3], "the first two mistakes are kept")
        #expect(score.mistakes.map(\.kind) == [.tooLow, .falseAlarm] && score.mistakes.first?.got == "error by model")
        #expect(score.lines.recall.description == "66.7% (2 of 3)" && JudgmentScore.Rate().description == "n/a (none)")
    }
}
