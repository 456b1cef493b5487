// A node-opcua server for the OPC UA interop tier (scada/opcua, build tag
// interop). It serves Basic256Sha256 with Sign and SignAndEncrypt, with the
// certificate and key the Go test generated, accepts one user name and
// password or any user certificate, and trusts any client certificate (the test checks the client's
// side of the trust, not the server's). It prints "READY <endpoint>" once it
// listens on 127.0.0.1.
//
// Usage: node opcua_server.mjs <certFile> <keyFile> <pkiDir> <user> <password>
import {
	OPCUAServer,
	OPCUACertificateManager,
	MessageSecurityMode,
	SecurityPolicy,
	Variant,
	DataType,
	makeEUInformation,
} from "node-opcua";

const [certificateFile, privateKeyFile, pkiDir, user, password] = process.argv.slice(2);
if (!password) {
	console.error("usage: node opcua_server.mjs <certFile> <keyFile> <pkiDir> <user> <password>");
	process.exit(2);
}

const serverCertificateManager = new OPCUACertificateManager({
	rootFolder: pkiDir,
	automaticallyAcceptUnknownCertificate: true,
});

// Users may also present an X509 certificate; any is accepted, like clients.
const userCertificateManager = new OPCUACertificateManager({
	rootFolder: pkiDir + "-users",
	automaticallyAcceptUnknownCertificate: true,
});

const server = new OPCUAServer({
	host: "127.0.0.1",
	port: 0,
	certificateFile,
	privateKeyFile,
	serverCertificateManager,
	userCertificateManager,
	serverInfo: { applicationUri: "urn:gl001:interop:server", productUri: "urn:gl001:interop" },
	securityPolicies: [SecurityPolicy.Basic256Sha256],
	securityModes: [MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
	allowAnonymous: false,
	userManager: { isValidUser: (u, p) => u === user && p === password },
});

await server.initialize();
const addressSpace = server.engine.addressSpace;
const ns = addressSpace.getOwnNamespace();
const boiler = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, nodeId: "s=Boiler1", browseName: "Boiler1" });

let temp = 150;
setInterval(() => { temp += 0.5; }, 20);
ns.addAnalogDataItem({
	componentOf: boiler,
	nodeId: "s=Boiler1.SteamTemp",
	browseName: "SteamTemp",
	dataType: "Double",
	engineeringUnitsRange: { low: 0, high: 600 },
	engineeringUnits: makeEUInformation("CEL", "degC", "degree Celsius"),
	accessLevel: "CurrentRead",
	userAccessLevel: "CurrentRead",
	value: { get: () => new Variant({ dataType: DataType.Double, value: temp }) },
});
ns.addVariable({
	componentOf: boiler,
	nodeId: "s=Boiler1.BurnerOn",
	browseName: "BurnerOn",
	dataType: "Boolean",
	accessLevel: "CurrentRead",
	userAccessLevel: "CurrentRead",
	value: { get: () => new Variant({ dataType: DataType.Boolean, value: true }) },
});
let stage = 2;
ns.addVariable({
	componentOf: boiler,
	nodeId: "s=Boiler1.Stage",
	browseName: "Stage",
	dataType: "Int16",
	accessLevel: "CurrentRead | CurrentWrite",
	userAccessLevel: "CurrentRead | CurrentWrite",
	value: {
		get: () => new Variant({ dataType: DataType.Int16, value: stage }),
		set: (v) => { stage = v.value; return 0; },
	},
});

await server.start();
console.log("READY opc.tcp://127.0.0.1:" + server.endpoints[0].port);

const stop = async () => { await server.shutdown(0); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop); // the test closes stdin to stop us
process.stdin.resume();
