"""Help for `az aks doctor` (YAML, as in every az command module)."""

from __future__ import annotations

from knack.help_files import helps

helps["aks doctor"] = """
type: command
short-summary: Diagnose LoadBalancer Service, node, identity and version problems of an AKS cluster, fix them, or
  collect a redacted snapshot for support.
long-summary: >-
  Reads the cluster through its Kubernetes API and its Azure resources, runs every aksdoctor check and reports
  each finding with its evidence, its cause and the exact command that fixes it. Diagnosing only reads. The
  cluster credentials come from ARM with your az login ('Azure Kubernetes Service Cluster User Role', or
  'Azure Kubernetes Service Cluster Admin Role' with --admin) and stay in memory: no kubeconfig file is written and
  kubectl is not needed. Entra ID clusters use a token from your az login instead of kubelogin. Private clusters
  must be reachable from this machine (else see 'az aks command invoke'). Without --service every cluster check
  runs, plus the load-balancer checks for every LoadBalancer Service; with --service only that Service's path is
  diagnosed. The result is the aksdoctor JSON report (schemaVersion, target, summary, findings, checks), so -o and
  --query work as usual; -o table lists the findings. Exit code 0 when no finding reaches --fail-on (default:
  error), 1 when one does (the report is printed first) or on an error, 2 for bad arguments, 3 when the cluster
  or resource group does not exist.

  --fix ACTION plans a fix instead (a dry run: nothing changes): every request it would send, the equivalent
  command, the blast radius and how to roll back. --yes applies the plan, step by step, then re-runs the checks the
  action addresses. Kubernetes changes use the cluster credentials above; Azure and Microsoft Graph changes use
  your az login, which then needs the matching role (the error names it). The result is the fix run (plan, result
  of each step, verification and an audit record of what, when, who and with what outcome); -o table lists the
  steps. Exit code 0 for a plan, nothing to do, or applied and verified; 1 after printing the result when a step
  failed or the re-check still fails; 2 for bad arguments (--yes with --snapshot, a flag of another action). A plan
  from --snapshot is never applied.

  --collect FILE.tar.gz (or DIR) writes a snapshot of the cluster and its Azure
  resources with every secret redacted (--anonymize also replaces names, IPs and subscription ids); --snapshot
  reads it back and gives the same findings.
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
  - name: Plan a fix (nothing is changed) and show its steps as a table.
    text: az aks doctor -n MyCluster -g MyResourceGroup --fix exclude-virtual-nodes -o table
  - name: Apply the fix, then re-check; print only the audit record.
    text: az aks doctor -n MyCluster -g MyResourceGroup --fix exclude-virtual-nodes --yes --query audit
  - name: Restart the tunnel pods and wait up to 5 minutes for the tunnel to be healthy again.
    text: az aks doctor -n MyCluster -g MyResourceGroup --fix restart-tunnel --yes --timeout 300
  - name: New secret for the cluster's service principal, valid 2 years and never printed; remove expired ones.
    text: az aks doctor -n MyCluster -g MyResourceGroup --fix reset-sp-credential --years 2 --remove-expired --yes
  - name: Plan a fix from a snapshot (a snapshot is never changed).
    text: az aks doctor -n MyCluster -g MyResourceGroup --snapshot ./bundle.tar.gz --fix delete-orphaned-ips
  - name: Collect a redacted snapshot for support, then diagnose it offline.
    text: |-
      az aks doctor -n MyCluster -g MyResourceGroup --collect ./bundle.tar.gz
      az aks doctor -n MyCluster -g MyResourceGroup --snapshot ./bundle.tar.gz
  - name: Collect into a new directory, with names, IP addresses and subscription ids replaced.
    text: az aks doctor -n MyCluster -g MyResourceGroup --collect ./bundle --anonymize
"""
