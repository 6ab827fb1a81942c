"""Community Sigma rules run on the store: conversion (pySigma 2), import, and alerts."""
