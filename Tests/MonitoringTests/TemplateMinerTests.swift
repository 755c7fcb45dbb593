import Testing
@testable import Monitoring

@Suite struct TemplateMinerTests {
    @Test(arguments: [
        ("Accepted password for alice from 192.168.1.10 port 22 ssh2",
         "Accepted password for alice from <IP> port <NUM> <*>"),
        ("Out of memory: Killed process 1234 (nginx) total-vm:123456kB",
         "Out of memory: Killed process <NUM> (nginx) <*>"),
        ("nginx.service: Main process exited, code=exited, status=1/FAILURE",
         "nginx.service: Main process exited, code=exited, status=<*>"),
        ("Started session c2 for user root after 1.5s", "Started session <*> for user <USER> after <DUR>"),
        ("read /var/lib/app/data.db failed at 0x7ffde3a0 id 3f2504e0-4f89-11d3-9a0c-0305e82c3301",
         "read <PATH> failed at <HEX> id <UUID>"),
        ("connection from fe80::1ff:fe23:4567:890a refused (load 97%)", "connection from <IP> refused (load <NUM>)"),
        ("pid=4242, uid=1000 comm=\"bash\"", "pid=<NUM>, uid=<NUM> comm=\"bash\""),
    ])
    func variablePartsAreMasked(_ message: String, _ expected: String) {
        #expect(TemplateMiner.mask(message).joined(separator: " ") == expected)
    }

    @Test func linesOfOneKindShareATemplateAndOthersDoNot() {
        var miner = TemplateMiner()
        let first = miner.add("Started Session 12 of User root.")
        let second = miner.add("Started Session 4711 of User root.")
        let other = miner.add("Stopped target Sound Card.")
        #expect(first.isNew && !second.isNew && other.isNew)
        #expect(first.id == second.id && first.id != other.id)
        #expect(miner[first.id]?.count == 2)
        // A name the masking leaves (after "for") still differs in one token of nine: same template.
        let alice = miner.add("Accepted password for alice from 10.0.0.1 port 22 ssh2")
        let bob = miner.add("Accepted password for bob from 10.0.0.2 port 2222 ssh2")
        #expect(alice.id == bob.id)
    }

    @Test func aClusterGeneralisesWhereLinesDifferAndKeepsItsID() {
        var miner = TemplateMiner()
        let nginx = miner.add("Failed to start nginx.service - A high performance web server.")
        let sshd = miner.add("Failed to start sshd.service - A high performance web server.")
        #expect(nginx.id == sshd.id && !sshd.isNew)
        #expect(miner[nginx.id]?.text == "Failed to start <*> - A high performance web server.")
        // Too different to merge: a new template.
        #expect(miner.add("Reached target Multi-User System.").isNew)
    }

    @Test func storedTemplatesKeepTheirIDsAfterARestart() {
        var miner = TemplateMiner()
        let id = miner.add("disk /dev/sda1 is 91% full").id
        var restored = TemplateMiner(restoring: miner.templates)
        let again = restored.add("disk /dev/sdb2 is 97% full")
        #expect(again.id == id && !again.isNew)
        #expect(restored.add("something else entirely").id > id)
    }
}
