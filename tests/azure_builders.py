"""ARM and Graph objects in the REST shape, for scenario snapshots (written under the snapshot's azure/ folder).

Names follow cloud-provider-azure's conventions (re-stated here as test data): a Service's
base name is "a" + the first 31 hex characters of its UID, the LB is `kubernetes` / `kubernetes-internal`, the
frontend, rules and probes are named after the base, managed public IPs are `kubernetes-<base>`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from builders import NODE_RG, SUB

NETWORK = "Microsoft.Network"
COMPUTE = "Microsoft.Compute"


def rg_id(rg: str = NODE_RG) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}"


def res_id(rtype: str, name: str, rg: str = NODE_RG) -> str:
    return f"{rg_id(rg)}/providers/{rtype}/{name}"


def base_name(service: Mapping[str, Any]) -> str:
    """DefaultLoadBalancerName: "a" + UID without dashes, cut to 32 characters."""
    return ("a" + service["metadata"]["uid"].replace("-", ""))[:32]


def _child(parent_id: str, collection: str, name: str, ctype: str, props: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": name, "id": f"{parent_id}/{collection}/{name}", "type": ctype, "properties": dict(props)}


def public_ip(
    name: str,
    ip: str | None,
    *,
    rg: str = NODE_RG,
    sku: str = "Standard",
    tags: Mapping[str, str] | None = None,
    ip_configuration: str | None = None,
    dns_label: str | None = None,
    allocation: str = "Static",
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "publicIPAddressVersion": "IPv4",
        "publicIPAllocationMethod": allocation,
        "idleTimeoutInMinutes": 4,
    }
    if ip:
        props["ipAddress"] = ip
    if ip_configuration:
        props["ipConfiguration"] = {"id": ip_configuration}
    if dns_label:
        props["dnsSettings"] = {"domainNameLabel": dns_label, "fqdn": f"{dns_label}.westeurope.cloudapp.azure.com"}
    return {
        "name": name,
        "id": res_id(f"{NETWORK}/publicIPAddresses", name, rg),
        "type": f"{NETWORK}/publicIPAddresses",
        "location": "westeurope",
        "sku": {"name": sku, "tier": "Regional"},
        "tags": dict(tags or {}),
        "properties": props,
    }


def managed_public_ip(service: Mapping[str, Any], ip: str, *, cluster: str = "kubernetes", **kw: Any) -> dict[str, Any]:
    """A public IP the provider created for a Service, tagged the way it tags them."""
    key = f"{service['metadata']['namespace']}/{service['metadata']['name']}"
    tags = {"k8s-azure-service": key, "k8s-azure-cluster-name": cluster, **kw.pop("tags", {})}
    return public_ip(f"{cluster}-{base_name(service)}", ip, tags=tags, **kw)


def load_balancer(
    name: str = "kubernetes",
    *,
    rg: str = NODE_RG,
    sku: str = "Standard",
    services: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]] = (),
    pool_members: Iterable[str] = (),
    pool_name: str = "kubernetes",
    internal_subnet_id: str | None = None,
) -> dict[str, Any]:
    """An LB carrying, for each (Service, frontend) pair, the frontend, rules and probes the provider creates.

    A frontend is `{"public_ip_id": ...}` or `{"private_ip": ...}`; rules use the Service's ports (TCP probe on the
    nodePort, or HTTP /healthz on healthCheckNodePort for externalTrafficPolicy Local).
    """
    lb_id = res_id(f"{NETWORK}/loadBalancers", name, rg)
    pool_id = f"{lb_id}/backendAddressPools/{pool_name}"
    frontends, rules, probes = [], [], []
    for svc, fe in services:
        base = base_name(svc)
        fe_props: dict[str, Any] = {"provisioningState": "Succeeded"}
        if "public_ip_id" in fe:
            fe_props["publicIPAddress"] = {"id": fe["public_ip_id"]}
        else:
            fe_props.update({"privateIPAddress": fe["private_ip"], "privateIPAllocationMethod": "Dynamic"})
            fe_props["subnet"] = {"id": internal_subnet_id or subnet_id()}
        frontends.append(
            _child(
                lb_id, "frontendIPConfigurations", base, f"{NETWORK}/loadBalancers/frontendIPConfigurations", fe_props
            )
        )
        spec = svc["spec"]
        local = spec.get("externalTrafficPolicy") == "Local"
        for port in spec["ports"]:
            proto = port.get("protocol", "TCP")
            rule_name = f"{base}-{proto}-{port['port']}"
            probe_name = f"{base}-TCP-{spec['healthCheckNodePort']}" if local else rule_name
            if not any(p["name"] == probe_name for p in probes):
                probe_props = (
                    {"protocol": "Http", "port": spec["healthCheckNodePort"], "requestPath": "/healthz"}
                    if local
                    else {"protocol": "Tcp", "port": port["nodePort"]}
                )
                probes.append(
                    _child(
                        lb_id,
                        "probes",
                        probe_name,
                        f"{NETWORK}/loadBalancers/probes",
                        {**probe_props, "intervalInSeconds": 5, "numberOfProbes": 2, "provisioningState": "Succeeded"},
                    )
                )
            rules.append(
                _child(
                    lb_id,
                    "loadBalancingRules",
                    rule_name,
                    f"{NETWORK}/loadBalancers/loadBalancingRules",
                    {
                        "frontendIPConfiguration": {"id": f"{lb_id}/frontendIPConfigurations/{base}"},
                        "backendAddressPool": {"id": pool_id},
                        "probe": {"id": f"{lb_id}/probes/{probe_name}"},
                        "protocol": proto.capitalize(),
                        "frontendPort": port["port"],
                        "backendPort": port["port"],
                        "enableFloatingIP": True,
                        "idleTimeoutInMinutes": 4,
                        "enableTcpReset": True,
                        "disableOutboundSnat": True,
                        "loadDistribution": "Default",
                        "provisioningState": "Succeeded",
                    },
                )
            )
    pool = _child(
        lb_id,
        "backendAddressPools",
        pool_name,
        f"{NETWORK}/loadBalancers/backendAddressPools",
        {"provisioningState": "Succeeded", "backendIPConfigurations": [{"id": m} for m in pool_members]},
    )
    return {
        "name": name,
        "id": lb_id,
        "type": f"{NETWORK}/loadBalancers",
        "location": "westeurope",
        "sku": {"name": sku, "tier": "Regional"},
        "properties": {
            "provisioningState": "Succeeded",
            "frontendIPConfigurations": frontends,
            "backendAddressPools": [pool],
            "loadBalancingRules": rules,
            "probes": probes,
            "outboundRules": [],
        },
    }


def vmss_ip_configuration_id(vmss: str, instance: int, rg: str = NODE_RG, nic: str | None = None) -> str:
    """What a VMSS instance's pool membership looks like in an LB's backendIPConfigurations."""
    nic = nic or vmss
    return (
        f"{res_id(f'{COMPUTE}/virtualMachineScaleSets', vmss, rg)}/virtualMachines/{instance}"
        f"/networkInterfaces/{nic}/ipConfigurations/ipconfig1"
    )


def subnet_id(vnet: str = "aks-vnet-31415926", subnet: str = "aks-subnet", rg: str = NODE_RG) -> str:
    return f"{res_id(f'{NETWORK}/virtualNetworks', vnet, rg)}/subnets/{subnet}"


def security_rule(
    name: str,
    priority: int,
    *,
    access: str = "Allow",
    direction: str = "Inbound",
    protocol: str = "Tcp",
    source: str | Sequence[str] = "*",
    destination: str | Sequence[str] = "*",
    ports: str | Sequence[str] = "*",
    source_ports: str = "*",
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "protocol": protocol,
        "access": access,
        "direction": direction,
        "priority": priority,
        "sourcePortRange": source_ports,
        "provisioningState": "Succeeded",
    }
    for singular, plural, value in (
        ("sourceAddressPrefix", "sourceAddressPrefixes", source),
        ("destinationAddressPrefix", "destinationAddressPrefixes", destination),
        ("destinationPortRange", "destinationPortRanges", ports),
    ):
        if isinstance(value, str):
            props[singular] = value
            props[plural] = []
        else:
            props[plural] = list(value)
    return {"name": name, "type": f"{NETWORK}/networkSecurityGroups/securityRules", "properties": props}


def nsg(
    name: str = "aks-agentpool-31415926-nsg", rules: Sequence[Mapping[str, Any]] = (), *, rg: str = NODE_RG
) -> dict:
    nsg_id = res_id(f"{NETWORK}/networkSecurityGroups", name, rg)
    full = [{**r, "id": f"{nsg_id}/securityRules/{r['name']}"} for r in rules]
    return {
        "name": name,
        "id": nsg_id,
        "type": f"{NETWORK}/networkSecurityGroups",
        "location": "westeurope",
        "properties": {"provisioningState": "Succeeded", "securityRules": full, "defaultSecurityRules": []},
    }


def vmss(
    name: str,
    *,
    rg: str = NODE_RG,
    sku: str = "Standard_D4ds_v5",
    capacity: int = 3,
    subnet: str | None = None,
    nsg_id: str | None = None,
    pools: Sequence[str] = (),
) -> dict[str, Any]:
    ipconfig = {
        "name": "ipconfig1",
        "properties": {
            "primary": True,
            "subnet": {"id": subnet or subnet_id()},
            "loadBalancerBackendAddressPools": [{"id": p} for p in pools],
        },
    }
    nic_config: dict[str, Any] = {"name": name, "properties": {"primary": True, "ipConfigurations": [ipconfig]}}
    if nsg_id:
        nic_config["properties"]["networkSecurityGroup"] = {"id": nsg_id}
    return {
        "name": name,
        "id": res_id(f"{COMPUTE}/virtualMachineScaleSets", name, rg),
        "type": f"{COMPUTE}/virtualMachineScaleSets",
        "location": "westeurope",
        "sku": {"name": sku, "tier": "Standard", "capacity": capacity},
        "properties": {
            "provisioningState": "Succeeded",
            "orchestrationMode": "Uniform",
            "virtualMachineProfile": {"networkProfile": {"networkInterfaceConfigurations": [nic_config]}},
        },
    }


def vmss_vm(
    vmss_name: str,
    instance: int,
    *,
    rg: str = NODE_RG,
    power_state: str = "running",
    provisioning_state: str = "Succeeded",
    computer_name: str | None = None,
) -> dict[str, Any]:
    """A scale set instance as `list ... $expand=instanceView` returns it."""
    base = res_id(f"{COMPUTE}/virtualMachineScaleSets", vmss_name, rg)
    return {
        "name": f"{vmss_name}_{instance}",
        "id": f"{base}/virtualMachines/{instance}",
        "type": f"{COMPUTE}/virtualMachineScaleSets/virtualMachines",
        "location": "westeurope",
        "instanceId": str(instance),
        "properties": {
            "provisioningState": provisioning_state,
            "latestModelApplied": True,
            "osProfile": {"computerName": computer_name or f"{vmss_name}{instance:06d}"},
            "instanceView": {
                "statuses": [
                    {"code": f"ProvisioningState/{provisioning_state.lower()}", "level": "Info"},
                    {"code": f"PowerState/{power_state}", "level": "Info"},
                ]
            },
        },
    }


def managed_cluster(
    name: str = "prod-aks",
    rg: str = "prod-rg",
    *,
    client_id: str = "msi",
    node_rg: str = NODE_RG,
    version: str = "1.32.6",
    lb_sku: str = "standard",
) -> dict[str, Any]:
    return {
        "name": name,
        "id": res_id("Microsoft.ContainerService/managedClusters", name, rg),
        "type": "Microsoft.ContainerService/ManagedClusters",
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"} if client_id == "msi" else None,
        "properties": {
            "provisioningState": "Succeeded",
            "kubernetesVersion": version,
            "nodeResourceGroup": node_rg,
            "servicePrincipalProfile": {"clientId": client_id},
            "networkProfile": {"loadBalancerSku": lb_sku, "networkPlugin": "azure"},
        },
    }


def graph_application(app_id: str, password_ends: Sequence[str] = (), display_name: str = "prod-aks-sp") -> dict:
    """A Microsoft Graph application with password credentials ending at the given RFC 3339 times."""
    return {
        "@odata.type": "#microsoft.graph.application",
        "id": "1f6ac5c0-9f0e-4d7c-8d2b-3c1e9a7f4b21",
        "appId": app_id,
        "displayName": display_name,
        "passwordCredentials": [
            {
                "displayName": f"rbac-{i}",
                "endDateTime": end,
                "startDateTime": "2025-12-01T08:00:00Z",
                "keyId": f"0000000{i}-aaaa-bbbb-cccc-000000000000",
                "hint": "abc",
                "secretText": None,
            }
            for i, end in enumerate(password_ends)
        ],
        "keyCredentials": [],
    }


def virtual_network(
    name: str = "aks-vnet-31415926",
    subnets: Mapping[str, str] | None = None,
    *,
    rg: str = NODE_RG,
    nsg_id: str | None = None,
    route_table_id: str | None = None,
) -> dict[str, Any]:
    """A VNet whose subnets (name -> prefix; default aks-subnet) all carry the given NSG and route table."""
    subnets = subnets or {"aks-subnet": "10.224.0.0/16"}
    vnet_id = res_id(f"{NETWORK}/virtualNetworks", name, rg)
    extra = {k: {"id": v} for k, v in (("networkSecurityGroup", nsg_id), ("routeTable", route_table_id)) if v}
    return {
        "name": name,
        "id": vnet_id,
        "type": f"{NETWORK}/virtualNetworks",
        "location": "westeurope",
        "properties": {
            "provisioningState": "Succeeded",
            "addressSpace": {"addressPrefixes": ["10.224.0.0/12"]},
            "subnets": [
                _child(
                    vnet_id,
                    "subnets",
                    subnet,
                    f"{NETWORK}/virtualNetworks/subnets",
                    {"addressPrefix": prefix, "provisioningState": "Succeeded", **extra},
                )
                for subnet, prefix in subnets.items()
            ],
        },
    }


def route_table(name: str = "aks-agentpool-31415926-routetable", *, rg: str = NODE_RG) -> dict[str, Any]:
    return {
        "name": name,
        "id": res_id(f"{NETWORK}/routeTables", name, rg),
        "type": f"{NETWORK}/routeTables",
        "location": "westeurope",
        "properties": {"provisioningState": "Succeeded", "routes": [], "disableBgpRoutePropagation": False},
    }


def network_interface(
    name: str, *, rg: str = NODE_RG, subnet: str | None = None, ip: str = "10.224.0.4", vm_id: str | None = None
) -> dict[str, Any]:
    """A standalone NIC (availability-set and VMSS Flex nodes)."""
    nic_id = res_id(f"{NETWORK}/networkInterfaces", name, rg)
    ipconfig = _child(
        nic_id,
        "ipConfigurations",
        "ipconfig1",
        f"{NETWORK}/networkInterfaces/ipConfigurations",
        {"primary": True, "privateIPAddress": ip, "subnet": {"id": subnet or subnet_id()}},
    )
    props: dict[str, Any] = {"provisioningState": "Succeeded", "ipConfigurations": [ipconfig]}
    if vm_id:
        props["virtualMachine"] = {"id": vm_id}
    return {
        "name": name,
        "id": nic_id,
        "type": f"{NETWORK}/networkInterfaces",
        "location": "westeurope",
        "properties": props,
    }


def virtual_machine(
    name: str,
    *,
    rg: str = NODE_RG,
    nic_id: str | None = None,
    size: str = "Standard_D4s_v5",
    power_state: str | None = None,
) -> dict[str, Any]:
    """A standalone VM as a group list returns it; with `power_state`, as the statusOnly list returns it."""
    props: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "hardwareProfile": {"vmSize": size},
        "networkProfile": {"networkInterfaces": [{"id": nic_id or res_id(f"{NETWORK}/networkInterfaces", name, rg)}]},
    }
    if power_state:
        props = {"instanceView": {"statuses": [{"code": f"PowerState/{power_state}", "level": "Info"}]}}
    return {
        "name": name,
        "id": res_id(f"{COMPUTE}/virtualMachines", name, rg),
        "type": f"{COMPUTE}/virtualMachines",
        "location": "westeurope",
        "properties": props,
    }


def management_lock(name: str, level: str = "CanNotDelete", *, rg: str = NODE_RG) -> dict[str, Any]:
    return {
        "name": name,
        "id": f"{rg_id(rg)}/providers/Microsoft.Authorization/locks/{name}",
        "type": "Microsoft.Authorization/locks",
        "properties": {"level": level, "notes": "", "owners": []},
    }


def role_assignment(principal_id: str, role_id: str, *, scope: str | None = None) -> dict[str, Any]:
    """`role_id` is the role definition's GUID (Network Contributor: 4d97b98b-1d4f-4787-a291-c67834d212e7)."""
    scope = scope or rg_id()
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope}/{principal_id}/{role_id}"))
    return {
        "name": name,
        "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role_id}",
            "principalId": principal_id,
            "principalType": "ServicePrincipal",
            "scope": scope,
        },
    }


def vm_id(name: str, rg: str = NODE_RG) -> str:
    return res_id(f"{COMPUTE}/virtualMachines", name, rg)


def nic_ip_configuration_id(nic_name: str, rg: str = NODE_RG, ipconfig: str = "ipconfig1") -> str:
    """What an availability-set (or VMSS Flex) VM's pool membership looks like in backendIPConfigurations."""
    return f"{res_id(f'{NETWORK}/networkInterfaces', nic_name, rg)}/ipConfigurations/{ipconfig}"


def set_pool_addresses(lb: dict[str, Any], ips: Iterable[str], pool_name: str = "kubernetes") -> dict[str, Any]:
    """Make an LB's pool IP-based (loadBalancerBackendAddressPoolType nodeIP): members are node IPs in the VNet."""
    vnet = subnet_id().rsplit("/subnets/", 1)[0]
    for pool in lb["properties"]["backendAddressPools"]:
        if pool["name"] == pool_name:
            pool["properties"]["backendIPConfigurations"] = []
            pool["properties"]["loadBalancerBackendAddresses"] = [
                {"name": f"{pool_name}-{ip}", "properties": {"ipAddress": ip, "virtualNetwork": {"id": vnet}}}
                for ip in ips
            ]
    return lb


def set_probe(lb: dict[str, Any], name: str, **props: Any) -> dict[str, Any]:
    """Change a probe's properties (protocol, port, requestPath...) as if edited in Azure."""
    for probe in lb["properties"]["probes"]:
        if probe["name"] == name:
            probe["properties"].update(props)
            if str(probe["properties"].get("protocol", "")).lower() == "tcp":
                probe["properties"].pop("requestPath", None)
    return lb


def nsg_id(name: str = "aks-agentpool-31415926-nsg", rg: str = NODE_RG) -> str:
    return res_id(f"{NETWORK}/networkSecurityGroups", name, rg)


def provider_allow_rule(
    destinations: Sequence[str],
    ports: Sequence[Any],
    *,
    sources: Sequence[str] = ("Internet",),
    priority: int = 500,
    protocol: str = "Tcp",
    family: str = "IPv4",
) -> dict[str, Any]:
    """The consolidated allow rule cloud-provider-azure (v1.29+) writes for a frontend:
    `k8s-azure-lb_allow_<family>_<md5 of "<protocol>_<sorted sources joined ,>_<sorted ports joined ,>">`."""
    import hashlib

    key = "_".join([protocol, ",".join(sorted(sources)), ",".join(sorted(str(p) for p in ports))])
    name = f"k8s-azure-lb_allow_{family}_{hashlib.md5(key.encode()).hexdigest()}"
    source = sources[0] if len(sources) == 1 else list(sources)
    return security_rule(
        name, priority, source=source, destination=list(destinations), ports=[str(p) for p in ports], protocol=protocol
    )


def provider_deny_all_rule(destinations: Sequence[str], *, priority: int = 4095, family: str = "IPv4") -> dict:
    """`k8s-azure-lb_deny-all_<family>` (azure-deny-all-except-load-balancer-source-ranges, or invalid ranges)."""
    return security_rule(
        f"k8s-azure-lb_deny-all_{family}", priority, access="Deny", protocol="*", destination=list(destinations)
    )
