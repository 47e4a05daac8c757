"""Help for `az aks doctor` (YAML, as in every az command module)."""

from __future__ import annotations

from knack.help_files import helps

helps["aks doctor"] = """
type: command
short-summary: Diagnose LoadBalancer Service, node, identity and version problems of an AKS cluster.
long-summary: >-
  Reads the cluster through its Kubernetes API and its Azure resources, runs every aksdoctor check and reports
  each finding with its evidence, its cause and the exact command that fixes it. It only reads; nothing is changed.
  The cluster credentials come from ARM with your az login ('Azure Kubernetes Service Cluster User Role', or
  'Azure Kubernetes Service Cluster Admin Role' with --admin) and stay in memory: no kubeconfig file is written and
  kubectl is not needed. Entra ID clusters use a token from your az login instead of kubelogin. Private clusters
  must be reachable from this machine (else see 'az aks command invoke'). Without --service every cluster check
  runs, plus the load-balancer checks for every LoadBalancer Service; with --service only that Service's path is
  diagnosed. The result is the aksdoctor JSON report (schemaVersion, target, summary, findings, checks), so -o and
  --query work as usual; -o table lists the findings. Exit code 0 when no finding reaches --fail-on (default:
  error), 1 when one does (the report is printed first) or on an error, 2 for bad arguments, 3 when the cluster
  or resource group does not exist.
examples:
  - name: Diagnose a cluster (every cluster check and every LoadBalancer Service).
    text: az aks doctor --name MyCluster --resource-group MyResourceGroup
  - name: Diagnose one LoadBalancer Service that stays pending or does not answer.
    text: az aks doctor -n MyCluster -g MyResourceGroup --service shop/web
  - name: Show the findings as a table.
    text: az aks doctor -n MyCluster -g MyResourceGroup -o table
  - name: Only the node checks, failing the pipeline on warnings too.
    text: az aks doctor -n MyCluster -g MyResourceGroup --check "node.*" --fail-on warning
  - name: List the ids and fix commands of the error and critical findings.
    text: az aks doctor -n MyCluster -g MyResourceGroup --query "findings[?severity=='error'].{id:id, fix:fix.commands}"
  - name: Diagnose a snapshot offline (no Azure login needed).
    text: az aks doctor -n MyCluster -g MyResourceGroup --snapshot ./bundle.tar.gz -o json
"""
