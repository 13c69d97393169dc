import { describe, expect, it } from "vitest";
import { operatorUrl } from "./remote-env.js";
import { parseSshTarget } from "./ssh.js";

describe("operatorUrl", () => {
  const vm1 = parseSshTarget("deployer@vm1.example.com:2222");

  it.each([
    // A wildcard publicBind: the VM's op says 127.0.0.1; the operator reaches the SSH host.
    ["http://127.0.0.1:8080/", "0.0.0.0:8080", vm1, undefined, "http://vm1.example.com:8080/"],
    ["http://127.0.0.1:8080/", "[::]:8080", vm1, undefined, "http://vm1.example.com:8080/"],
    ["http://127.0.0.1:80/", "0.0.0.0:80", parseSshTarget("root@[2001:db8::7]"), undefined, "http://[2001:db8::7]/"],
    // The environment's public_base_url wins on publicBind's port, whatever the bind.
    ["http://127.0.0.1:8080/", "0.0.0.0:8080", vm1, "https://shop.example.com", "https://shop.example.com/"],
    ["http://127.0.0.1:8080/", "127.0.0.1:8080", vm1, "https://shop.example.com", "https://shop.example.com/"],
    // A specific address stays as bound; a loopback bind answers on the VM only, and says so by its address.
    ["http://10.0.0.5:8080/", "10.0.0.5:8080", vm1, undefined, "http://10.0.0.5:8080/"],
    ["http://127.0.0.1:8080/", "127.0.0.1:8080", vm1, undefined, "http://127.0.0.1:8080/"],
    // Another port (a revision's own, behind the proxy) is the VM's loopback, public_base_url or not.
    ["http://127.0.0.1:20001/", "0.0.0.0:8080", vm1, "https://shop.example.com", "http://127.0.0.1:20001/"],
  ])("%s with publicBind %s", (vmUrl, bind, target, base, expected) => {
    expect(operatorUrl(vmUrl, bind, target, base)).toBe(expected);
  });
});
